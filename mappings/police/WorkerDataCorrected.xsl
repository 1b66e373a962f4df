<?xml version="1.0" encoding="UTF-8"?>
<!--
  Licensing's canonical WorkerDataCorrected → the police's trf:NotifyWorkerDataCorrected.
  The register finds the worker by the numbers it held (Previous); only the
  corrected fields are sent, each as New*. CorrectionRef is licensing's
  correction id, so a redelivered notification is acknowledged once. The
  correction date is the UTC day of CorrectedAt, dd/mm/yyyy.
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1" xmlns:trf="urn:om:rop:transfer:2024"
    exclude-result-prefixes="rabt">
  <xsl:output method="xml" encoding="UTF-8"/>

  <xsl:template match="/rabt:WorkerDataCorrected">
    <trf:NotifyWorkerDataCorrected>
      <trf:CorrectionRef><xsl:value-of select="normalize-space(rabt:CorrectionId)"/></trf:CorrectionRef>
      <trf:CivilNo><xsl:value-of select="normalize-space(rabt:Previous/rabt:CivilNumber)"/></trf:CivilNo>
      <xsl:if test="rabt:Previous/rabt:PassportNumber">
        <trf:PassportNo><xsl:value-of select="normalize-space(rabt:Previous/rabt:PassportNumber)"/></trf:PassportNo>
      </xsl:if>
      <xsl:call-template name="new"><xsl:with-param name="field" select="'civil-number'"/><xsl:with-param name="tag" select="'NewCivilNo'"/></xsl:call-template>
      <xsl:call-template name="new"><xsl:with-param name="field" select="'passport-number'"/><xsl:with-param name="tag" select="'NewPassportNo'"/></xsl:call-template>
      <xsl:call-template name="new"><xsl:with-param name="field" select="'name-ar'"/><xsl:with-param name="tag" select="'NewNameAr'"/></xsl:call-template>
      <xsl:call-template name="new"><xsl:with-param name="field" select="'name-en'"/><xsl:with-param name="tag" select="'NewNameEn'"/></xsl:call-template>
      <xsl:call-template name="new"><xsl:with-param name="field" select="'nationality'"/><xsl:with-param name="tag" select="'NewNationalityCode'"/></xsl:call-template>
      <xsl:variable name="d" select="substring(normalize-space(rabt:CorrectedAt), 1, 10)"/>
      <trf:CorrectionDate><xsl:value-of select="concat(substring($d, 9, 2), '/', substring($d, 6, 2), '/', substring($d, 1, 4))"/></trf:CorrectionDate>
    </trf:NotifyWorkerDataCorrected>
  </xsl:template>

  <xsl:template name="new">
    <xsl:param name="field"/>
    <xsl:param name="tag"/>
    <xsl:for-each select="rabt:Correction[normalize-space(rabt:Field) = $field]">
      <xsl:element name="trf:{$tag}"><xsl:value-of select="normalize-space(rabt:After)"/></xsl:element>
    </xsl:for-each>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected a canonical WorkerDataCorrected, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
