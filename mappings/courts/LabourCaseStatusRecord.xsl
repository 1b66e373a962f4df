<?xml version="1.0" encoding="UTF-8"?>
<!--
  The labour court's lc:GetCaseStatusResponse → canonical LabourCaseStatusRecord.
  Dialect (schemas/agencies/courts/labour-court.xsd):
    StatusCode   OPN opened, HRG hearing (NextHearing given), JDG judgment open to
                 appeal, CLS closed (judgment final)
    OutcomeCode  W for-worker, E for-employer, P partly-for-worker, S settled, X dismissed
    ClaimType    WAGE EOSG DISM PASS LEAV INJR OTHR (as in the referral)
  The court's register is kept in English: PlaintiffName and DefendantName are
  English names. An unknown code stops the mapping with a message naming it
  (the answer is refused, not guessed at). Parameter "now" (UTC) is the AsOf time.
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1" xmlns:lc="urn:om:mjla:labourcourt:2022"
    exclude-result-prefixes="lc">
  <xsl:output method="xml" encoding="UTF-8"/>
  <xsl:include href="_courts.xsl"/>
  <xsl:param name="now"/>

  <xsl:template match="/lc:GetCaseStatusResponse">
    <xsl:variable name="status" select="normalize-space(lc:StatusCode)"/>
    <rabt:LabourCaseStatusRecord>
      <rabt:CaseNumber><xsl:value-of select="normalize-space(lc:CaseNo)"/></rabt:CaseNumber>
      <xsl:if test="normalize-space(lc:ComplaintNo)">
        <rabt:ComplaintId><xsl:value-of select="normalize-space(lc:ComplaintNo)"/></rabt:ComplaintId>
      </xsl:if>
      <rabt:Court><rabt:Code><xsl:value-of select="normalize-space(lc:CourtCode)"/></rabt:Code></rabt:Court>
      <rabt:Parties>
        <rabt:Employer>
          <rabt:CRNumber><xsl:value-of select="normalize-space(lc:DefendantCRNo)"/></rabt:CRNumber>
          <xsl:call-template name="name-as-written"><xsl:with-param name="name" select="lc:DefendantName"/></xsl:call-template>
        </rabt:Employer>
        <rabt:Worker>
          <rabt:CivilNumber><xsl:value-of select="normalize-space(lc:PlaintiffCivilNo)"/></rabt:CivilNumber>
          <xsl:if test="normalize-space(lc:PlaintiffName)">
            <xsl:call-template name="name-as-written"><xsl:with-param name="name" select="lc:PlaintiffName"/></xsl:call-template>
          </xsl:if>
        </rabt:Worker>
      </rabt:Parties>
      <xsl:apply-templates select="lc:ClaimType"/>
      <rabt:FiledOn><xsl:value-of select="normalize-space(lc:FiledOn)"/></rabt:FiledOn>
      <rabt:Status>
        <xsl:call-template name="case-event"><xsl:with-param name="code" select="$status"/></xsl:call-template>
      </rabt:Status>
      <rabt:StatusDate><xsl:value-of select="normalize-space(lc:StatusDate)"/></rabt:StatusDate>
      <xsl:if test="$status = 'HRG' and normalize-space(lc:NextHearing)">
        <rabt:NextHearing><xsl:value-of select="normalize-space(lc:NextHearing)"/></rabt:NextHearing>
      </xsl:if>
      <xsl:apply-templates select="lc:Judgment[$status = 'JDG' or $status = 'CLS']">
        <xsl:with-param name="closed" select="$status = 'CLS'"/>
      </xsl:apply-templates>
      <rabt:AsOf><xsl:value-of select="$now"/></rabt:AsOf>
    </rabt:LabourCaseStatusRecord>
  </xsl:template>

  <xsl:template match="lc:ClaimType">
    <xsl:variable name="c" select="normalize-space(.)"/>
    <rabt:Subject>
      <xsl:choose>
        <xsl:when test="$c = 'WAGE'">unpaid-wages</xsl:when>
        <xsl:when test="$c = 'EOSG'">end-of-service-gratuity</xsl:when>
        <xsl:when test="$c = 'DISM'">unfair-dismissal</xsl:when>
        <xsl:when test="$c = 'PASS'">withheld-passport</xsl:when>
        <xsl:when test="$c = 'LEAV'">leave-and-air-ticket</xsl:when>
        <xsl:when test="$c = 'INJR'">work-injury</xsl:when>
        <xsl:when test="$c = 'OTHR'">other</xsl:when>
        <xsl:otherwise><xsl:message terminate="yes">unknown ClaimType '<xsl:value-of select="$c"/>'</xsl:message></xsl:otherwise>
      </xsl:choose>
    </rabt:Subject>
  </xsl:template>

  <xsl:template match="lc:Judgment">
    <xsl:param name="closed"/>
    <rabt:Judgment>
      <rabt:Outcome>
        <xsl:call-template name="judgment-outcome"><xsl:with-param name="code" select="lc:OutcomeCode"/></xsl:call-template>
      </rabt:Outcome>
      <rabt:Text xml:lang="ar"><xsl:value-of select="normalize-space(lc:TextAr)"/></rabt:Text>
      <xsl:if test="normalize-space(lc:TextEn)">
        <rabt:Text xml:lang="en"><xsl:value-of select="normalize-space(lc:TextEn)"/></rabt:Text>
      </xsl:if>
      <xsl:if test="normalize-space(lc:AwardAmount)">
        <rabt:AmountAwarded currency="OMR"><xsl:value-of select="normalize-space(lc:AwardAmount)"/></rabt:AmountAwarded>
      </xsl:if>
      <rabt:Final><xsl:value-of select="$closed or normalize-space(lc:IsFinal) = 'true' or normalize-space(lc:IsFinal) = '1'"/></rabt:Final>
    </rabt:Judgment>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected lc:GetCaseStatusResponse, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
