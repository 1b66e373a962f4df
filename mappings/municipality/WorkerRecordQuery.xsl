<?xml version="1.0" encoding="UTF-8"?>
<!--
  Muscat Municipality ag:GetWorkerRecord (municipality.xsd) -> canonical WorkerRecordQuery
  (schemas/canonical/v1/worker-records.xsd). The municipality's field names are
  translated; what it may actually receive is decided by access.toml, not here.
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:ag="urn:agency:municipality:hub:1" xmlns:rabt="urn:rabt:canonical:v1"
    exclude-result-prefixes="ag">
  <xsl:output method="xml" encoding="UTF-8"/>

  <xsl:template match="/ag:GetWorkerRecord">
    <rabt:WorkerRecordQuery>
      <rabt:CivilNumber><xsl:value-of select="normalize-space(ag:ResidentCardNo)"/></rabt:CivilNumber>
      <xsl:for-each select="ag:Field">
        <rabt:Field>
          <xsl:choose>
            <xsl:when test=". = 'ResidentCardNo'">CivilNumber</xsl:when>
            <xsl:when test=". = 'ProfessionCode'">Profession</xsl:when>
            <xsl:when test=". = 'EmployerCRNo'">Employer</xsl:when>
            <xsl:when test=". = 'LicenceNo'">Licence</xsl:when>
            <xsl:when test=". = 'WorkerStatus'">Status</xsl:when>
            <xsl:otherwise><xsl:value-of select="normalize-space(.)"/></xsl:otherwise>
          </xsl:choose>
        </rabt:Field>
      </xsl:for-each>
    </rabt:WorkerRecordQuery>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected ag:GetWorkerRecord, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
