<?xml version="1.0" encoding="UTF-8"?>
<!--
  Police visas visa:CheckVisaEligibility (visa.xsd, 2021) → canonical VisaEligibilityQuery.
  The police do not send the licence type: it is read from the licence number's prefix.
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:visa="urn:om:rop:visa:2021" xmlns:rabt="urn:rabt:canonical:v1"
    exclude-result-prefixes="visa">
  <xsl:include href="_police.xsl"/>
  <xsl:output method="xml" encoding="UTF-8"/>

  <xsl:template match="/visa:CheckVisaEligibility">
    <rabt:VisaEligibilityQuery>
      <rabt:LicenceNumber><xsl:value-of select="normalize-space(visa:LicenceNo)"/></rabt:LicenceNumber>
      <rabt:LicenceType>
        <xsl:call-template name="licence-type"><xsl:with-param name="number" select="normalize-space(visa:LicenceNo)"/></xsl:call-template>
      </rabt:LicenceType>
      <rabt:ProfessionCode><xsl:value-of select="normalize-space(visa:ProfessionCode)"/></rabt:ProfessionCode>
      <rabt:WorkerNationality><xsl:value-of select="normalize-space(visa:NationalityCode)"/></rabt:WorkerNationality>
      <xsl:if test="visa:PassportNo">
        <rabt:WorkerPassportNumber><xsl:value-of select="normalize-space(visa:PassportNo)"/></rabt:WorkerPassportNumber>
      </xsl:if>
    </rabt:VisaEligibilityQuery>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected visa:CheckVisaEligibility, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
